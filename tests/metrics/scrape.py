"""Reading /metrics as Prometheus would: its text parsed into samples."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


class Samples:
    """The samples of one scrape, looked up by name and labels."""

    def __init__(self, text: str) -> None:
        self.values: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.values[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def get(self, name: str, **labels: str) -> float | None:
        return self.values.get((name, frozenset(labels.items())))

    def __getitem__(self, name: str) -> float:
        value = self.get(name)
        assert value is not None, f"no sample {name}"
        return value

    def value(self, name: str, **labels: str) -> float:
        found = self.get(name, **labels)
        assert found is not None, f"no sample {name}{labels}"
        return found

    def names(self) -> set[str]:
        return {name for name, _ in self.values}


def scrape(base_url: str, **headers: str) -> Samples:
    response = httpx.get(f"{base_url}/metrics", headers=headers, timeout=30)
    assert response.status_code == 200, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("text/plain")
    return Samples(response.text)
