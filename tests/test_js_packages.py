"""The browser SDKs the browser tests load (tests/js/): pinned exactly, from no named registry."""

import json
import re

from tests.support import ROOT

JS = ROOT / "tests" / "js"


def test_the_browser_sdks_are_pinned_to_exact_versions_in_package_and_lock():
    package = json.loads((JS / "package.json").read_text())
    lock = json.loads((JS / "package-lock.json").read_text())

    assert set(package["dependencies"]) == {"@segment/analytics-next", "@rudderstack/analytics-js"}
    for name, version in package["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), (name, version)
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
        assert lock["packages"][""]["dependencies"][name] == version


def test_the_lock_file_names_no_registry():
    # `npm ci` fetches from whichever registry npm is configured with (tests/js/.npmrc).
    text = (JS / "package-lock.json").read_text()

    assert '"resolved"' not in text
    assert "://" not in text


def test_node_modules_is_not_committed():
    ignored = (ROOT / ".gitignore").read_text().split()

    assert "node_modules/" in ignored
