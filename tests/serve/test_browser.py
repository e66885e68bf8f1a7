"""expnet serve in a real browser: Debian's Chromium, headless, driven by Selenium through
chromium-driver. Photo, video and live (Chromium's fake camera playing a Y4M clip the test
writes). Screenshots go to ``$EXPNET_SCREENSHOTS`` (the docs show them) or the test's folder.

CI installs the browser (``.ci/run``); elsewhere these tests skip with the reason when no
Chromium or ChromeDriver is installed.
"""

import os
import shutil
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver")

from serve_clips import Server, write_clip, write_y4m  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="needs Chromium and ChromeDriver (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium.webdriver.chrome.service import Service
    folder = tmp_path_factory.mktemp("browser")
    camera = write_y4m(folder / "camera.y4m", n=30)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,1000", f"--user-data-dir={folder / 'profile'}",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 f"--use-file-for-fake-video-capture={camera}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    server = Server()
    yield driver, server, folder
    driver.quit()
    assert server.stop() == 0


def _screenshot(driver, folder: Path, name: str) -> Path:
    """The page as a PNG in ``$EXPNET_SCREENSHOTS`` (or the test's folder), in 256 colours: small
    enough to keep in the docs."""
    import io

    from PIL import Image
    out = Path(os.environ.get("EXPNET_SCREENSHOTS", folder))
    out.mkdir(parents=True, exist_ok=True)
    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    image.quantize(256, dither=Image.Dither.NONE).save(out / name, optimize=True)
    return out / name


def _wait(driver, condition, timeout=180):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout, poll_frequency=0.3).until(condition)


def _tab(driver, name):
    from selenium.webdriver.common.by import By
    driver.find_element(By.CSS_SELECTOR, f'button[data-tab="{name}"]').click()


def test_a_photo_shows_its_overlay_and_coefficient_chart(browser):
    from selenium.webdriver.common.by import By

    from expnet.assets.samples import sample_path
    driver, server, folder = browser
    photo = folder / "takeo.jpg"  # a format every browser shows
    import cv2

    from expnet.io.images import load_image
    cv2.imwrite(str(photo), load_image(sample_path("takeo.ppm"))[..., ::-1])
    driver.get(server.url + "/")
    driver.find_element(By.ID, "photo-file").send_keys(str(photo))
    _wait(driver, lambda d: d.find_element(By.ID, "photo-canvas").get_attribute("data-faces") == "1")
    bars = driver.find_elements(By.CSS_SELECTOR, "#chart-0 rect")
    assert len(bars) == 10  # one bar per expression coefficient
    assert "yaw" in driver.find_element(By.CSS_SELECTOR, "#photo-faces .angles").text
    _wait(driver, lambda d: d.execute_script("return document.querySelector('#photo-faces img').naturalWidth") > 0)
    assert _screenshot(driver, folder, "serve-photo.png").stat().st_size > 10_000


def test_a_clip_runs_as_a_job_and_its_time_series_appear(browser):
    from selenium.webdriver.common.by import By
    driver, server, folder = browser
    clip = write_clip(folder / "clip.webm", n=24)
    driver.get(server.url + "/")
    _tab(driver, "video")
    driver.find_element(By.ID, "video-file").send_keys(str(clip))
    _wait(driver, lambda d: d.find_element(By.ID, "video-series").get_attribute("data-tracks") not in (None, "", "0"))
    assert "done: 24 frames" in driver.find_element(By.ID, "video-status").text
    assert driver.find_elements(By.CSS_SELECTOR, "#video-series svg path")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#video-downloads a")) == 3
    driver.execute_script("const v = document.getElementById('video-player'); v.currentTime = 1.0;")
    _wait(driver, lambda d: d.execute_script("return document.getElementById('video-player').readyState") >= 2)
    assert _screenshot(driver, folder, "serve-video.png").stat().st_size > 10_000


def test_live_mode_with_the_fake_camera_gets_results_and_counts_fps(browser):
    from selenium.webdriver.common.by import By
    driver, server, folder = browser
    driver.get(server.url + "/")
    _tab(driver, "live")
    driver.find_element(By.ID, "live-start").click()
    _wait(driver, lambda d: int(d.find_element(By.ID, "live-canvas").get_attribute("data-frames") or 0) >= 10, 120)
    _wait(driver, lambda d: float(d.find_element(By.ID, "live-fps").text or 0) > 0, 30)
    assert driver.find_elements(By.CSS_SELECTOR, "#live-faces .face")  # the fake camera's face was found
    assert _screenshot(driver, folder, "serve-live.png").stat().st_size > 10_000
    driver.find_element(By.ID, "live-stop").click()
