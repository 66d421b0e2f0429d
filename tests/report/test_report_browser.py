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
  const claims = document.querySelectorAll('table.claims tr.claim').length;
  const fig0 = document.getElementById('fig-fig0_verdicts');
  const details = document.querySelectorAll('table.claims details').length;
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({images: imgs.length, broken, claims, details,
    fig0_top: fig0 ? fig0.getBoundingClientRect().top + window.scrollY : null,
    fig0_rows: fig0 ? Number(fig0.dataset.rows) : null, scripts: document.scripts.length});
  document.body.appendChild(out);
});
</script>"""


def render(page, tmp_path):
    """Load `page` in Chromium and return what the probe script saw."""
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"))
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           "--window-size=1400,1000", "--virtual-time-budget=5000", "--dump-dom",
                           probed.as_uri()],
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
    # one table line per claim of the paper's protocols, per claim of each companion study
    lines = {(c["id"], c["protocol"] in ("reference", "corrected") or c["protocol"])
             for c in summary["claims"]}
    assert seen["claims"] == len(lines) >= 10


def test_the_first_screen_is_the_verdict_figure(smoke_run, tmp_path):
    """Fig 0 heads the page (inside the top 1,000 px of a 1,400-px-wide window), has one row
    per claim and protocol that ran, every claim's rule and evidence fold out, and the page
    needs no script and no URL."""
    page = (smoke_run / "report.html").read_text()
    seen = render(page, tmp_path)
    summary = json.loads((smoke_run / "summary.json").read_text())
    assert seen["fig0_top"] is not None and seen["fig0_top"] < 1000
    assert seen["fig0_rows"] == len(summary["claims"])
    assert seen["details"] >= seen["claims"] + len(summary["claims"])  # rule + each verdict
    assert seen["scripts"] == 1  # the probe's own: the report has none
    assert "http://" not in page and "https://" not in page
    assert (smoke_run / "figures" / "fig0_verdicts.svg").is_file()


def test_a_broken_figure_is_caught(smoke_run, tmp_path):
    page = (smoke_run / "report.html").read_text()
    broken = page.replace("data:image/png;base64,iVBOR", "data:image/png;base64,AAAA", 1)
    assert broken != page
    assert len(render(broken, tmp_path)["broken"]) == 1
