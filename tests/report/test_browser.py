"""The report page in a real browser (headless Chromium, skipped where none is installed): the leaderboard
fits an 800 px window, the tables sort on a click, and screenshots at 1400 and 800 px are written.

To look at the page yourself: ``apt-get install chromium`` (Debian's), then
``HARNESS_SCREENSHOTS=DIR python -m pytest tests/report/test_browser.py`` keeps the screenshots in DIR.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

BROWSER = next((found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))),
               None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium here (apt-get install chromium)")

#: Run in the page once it has loaded: measures the leaderboard, sorts a table by a click on its header,
#: and writes what it found into the page for --dump-dom.
CHECK = """<script>
(function () {
  var out = {width: document.documentElement.clientWidth};
  var board = document.querySelector("table.leaderboard");
  out.board_right = board.getBoundingClientRect().right;
  out.page_scrolls = document.documentElement.scrollWidth > document.documentElement.clientWidth;
  var table = document.querySelector("#table-per_seed table");
  var th = Array.prototype.find.call(table.tHead.rows[0].cells,
                                     function (c) { return c.textContent === "test accuracy"; });
  function column() {
    return Array.prototype.map.call(table.tBodies[0].rows, function (r) { return r.cells[th.cellIndex].textContent; });
  }
  th.click(); out.ascending = column();
  th.click(); out.descending = column();
  var pre = document.createElement("pre"); pre.id = "check"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def _chromium(*args: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([str(BROWSER), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=600, check=False)
    return done.stdout


@pytest.fixture
def page(pets_report) -> Path:
    return pets_report.html  # type: ignore[no-any-return]


@pytest.mark.parametrize("width", [1400, 800])
def test_the_page_in_a_browser(page: Path, width: int, tmp_path: Path) -> None:
    checked = tmp_path / "checked.html"
    checked.write_text(page.read_text().replace("</body>", CHECK + "</body>"))
    dom = _chromium(f"--window-size={width},900", "--dump-dom", checked.as_uri())
    found = re.search(r'<pre id="check">(.*?)</pre>', dom)
    assert found, dom[-2000:]
    result = json.loads(found.group(1).replace("&quot;", '"'))
    assert result["board_right"] <= result["width"] and not result["page_scrolls"], result
    numbers = [float(v) for v in result["ascending"] if v]
    assert numbers == sorted(numbers) and len(numbers) == 5
    assert result["ascending"][-2:] == ["", ""]  # blanks (the error, the skip) last
    assert [float(v) for v in result["descending"] if v] == sorted(numbers, reverse=True)

    keep = Path(os.environ.get("HARNESS_SCREENSHOTS") or tmp_path)
    keep.mkdir(parents=True, exist_ok=True)
    shot = keep / f"report-{width}.png"
    _chromium(f"--window-size={width},900", f"--screenshot={shot}", page.as_uri())
    header = shot.read_bytes()[:24]
    assert header.startswith(b"\x89PNG") and int.from_bytes(header[16:20], "big") == width
