"""report.html as a person sees it: rendered by headless Chromium, every figure decoded."""

import json
import os
import re
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const broken = imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt);
  const claims = document.querySelectorAll('#claims tr').length - 1;
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({images: imgs.length, broken, claims});
  document.body.appendChild(out);
});
</script>"""


def render(page, tmp_path):
    """Load `page` in Chromium and return what the probe script saw."""
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"))
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()],
                          capture_output=True, text=True, timeout=120)
    match = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout)
    assert match, f"probe did not run: {done.stderr[-2000:]}"
    return json.loads(match.group(1).replace("&quot;", '"'))


@pytest.fixture(autouse=True)
def chromium_present():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: scripts/setup.sh installs it (Debian 'chromium')")
        pytest.skip("Chromium not installed (scripts/setup.sh installs it where apt-get runs)")


def test_every_figure_loads_and_claims_are_shown(smoke_run, tmp_path):
    page = (smoke_run / "report.html").read_text()
    seen = render(page, tmp_path)
    # Every figure, except Table 1's PNG: the page shows Table 1 as an HTML table.
    figures = {p.stem for p in (smoke_run / "figures").glob("*.png")
               if not p.stem.startswith("table1_")}
    assert seen["broken"] == []
    assert seen["images"] == len(figures) > 20
    summary = json.loads((smoke_run / "summary.json").read_text())
    assert seen["claims"] == len({c["id"] for c in summary["claims"]}) >= 10


def test_a_broken_figure_is_caught(smoke_run, tmp_path):
    page = (smoke_run / "report.html").read_text()
    broken = page.replace("data:image/png;base64,iVBOR", "data:image/png;base64,AAAA", 1)
    assert broken != page
    assert len(render(broken, tmp_path)["broken"]) == 1
