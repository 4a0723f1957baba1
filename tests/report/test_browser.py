"""report.html reads well in a real browser: headless Chromium renders it at desktop and phone
widths without sideways scrolling, and the screenshots show the page, not a blank one."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
# Measured in the page, read back from the DOM Chromium prints: how far it overflows sideways.
PROBE = (
    "<script>document.body.setAttribute('data-overflow', "
    "document.documentElement.scrollWidth - window.innerWidth)</script></body>"
)


def chromium(tmp_path, page: Path, size: tuple[int, int], *action: str):
    profile = tmp_path / f"profile-{size[0]}-{len(action)}"
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
        f"--window-size={size[0]},{size[1]}", *action, page.as_uri(),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    return result


@pytest.mark.parametrize("width", WIDTHS)
def test_the_report_renders_without_sideways_scrolling(moons_run, tmp_path, width):
    from PIL import Image

    _, run, _ = moons_run
    size = WIDTHS[width]
    shot = tmp_path / f"{width}.png"
    result = chromium(tmp_path, run / "report.html", size, f"--screenshot={shot}")
    assert shot.is_file(), result.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == size
        pixels = np.asarray(image.convert("L"), dtype=np.int64)
    assert (pixels < 100).mean() > 0.005  # text drawn: not a blank or error page
    assert len(np.unique(pixels)) > 20
    probed = tmp_path / "probed.html"
    probed.write_text((run / "report.html").read_text().replace("</body>", PROBE))
    dom = chromium(tmp_path, probed, size, "--dump-dom").stdout
    assert 'data-overflow="' in dom, dom[-2000:]
    overflow = int(dom.split('data-overflow="')[1].split('"')[0])
    assert overflow <= 0, f"the page is {overflow}px wider than a {width} screen"
