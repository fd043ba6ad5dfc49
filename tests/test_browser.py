"""The training dashboard in a real browser: JupyterLab + headless Chromium via Playwright.

Starts JupyterLab on 127.0.0.1 with a token, opens the notebook in Debian's Chromium
(``executable_path``: no Playwright browser download), runs all cells, presses Start, sees
the curves and the sample image change while the kernel stays idle (training runs in a
thread), presses Pause and sees training stop. Screenshots go to a temporary folder (or
``$VGAN_SCREENSHOTS``). Without Chromium or Playwright the test skips, unless
``VGAN_REQUIRE_BROWSER=1`` (CI), where it fails instead.

The notebook is copied into a temporary folder next to ``data`` and ``bench`` links to the
repository's, and JupyterLab's autosave is off, so the committed notebook is never rewritten.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("VGAN_CHROMIUM", "/usr/bin/chromium"))
REQUIRED = os.environ.get("VGAN_REQUIRE_BROWSER") == "1"
NOTEBOOK_04 = ROOT / "notebooks" / "04_training_on_frames.ipynb"
# The notebook under test: notebook 04 itself. None = a small generated dashboard notebook
# (DASHBOARD_CELLS), handy when changing the dashboard without notebook 04's run time.
NOTEBOOK: Path | None = NOTEBOOK_04

DASHBOARD_CELLS = [
    "import vgan_utils\nenv = vgan_utils.setup()",
    "from vgan_utils.dashboard import Dashboard, render_frames\n"
    "from vgan_utils.train import CONFIGS, build_trainer, dashboard_controls\n"
    "run = CONFIGS['smoke']\n"
    "dash = Dashboard(lambda hp: build_trainer(run, env.device, hparams=hp), render_frames,\n"
    "                 dashboard_controls(run), 'browser test', refresh_s=0.5)\n"
    "dash",
]


def _missing_browser() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (Debian: apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright's Python package is missing (pip install playwright)"
    return None


@pytest.fixture(scope="module", autouse=True)
def _browser_available() -> None:
    reason = _missing_browser()
    if reason and REQUIRED:
        pytest.fail(f"VGAN_REQUIRE_BROWSER=1 but {reason}")
    if reason:
        pytest.skip(f"browser test skipped: {reason}")


def _write_notebook(folder: Path) -> str:
    """Put the notebook under test into ``folder/notebooks``; return its path for the URL."""
    nb_dir = folder / "notebooks"
    nb_dir.mkdir()
    for shared in ("data", "bench"):  # what notebooks read as ../data and ../bench
        (folder / shared).symlink_to(ROOT / shared, target_is_directory=True)
    if NOTEBOOK is not None:
        shutil.copy(NOTEBOOK, nb_dir / NOTEBOOK.name)
        return f"notebooks/{NOTEBOOK.name}"
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in DASHBOARD_CELLS]
    nbformat.write(nb, nb_dir / "dashboard.ipynb")
    return "notebooks/dashboard.ipynb"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _quiet_settings(settings: Path) -> None:
    """No news toast, no update check, no autosave (the notebook must stay untouched)."""
    for plugin, values in {
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        "docmanager-extension/plugin": {"autosave": False},
    }.items():
        path = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[dict]:
    """A JupyterLab server on 127.0.0.1 serving a copy of the notebook; killed afterwards."""
    work = tmp_path_factory.mktemp("lab")
    token, port = f"vgan-{os.getpid()}-{time.monotonic_ns()}", _free_port()
    env = {**os.environ, "VGAN_PROFILE": "ci", "TQDM_DISABLE": "1",
           "JUPYTER_CONFIG_DIR": str(work / "cfg"), "JUPYTER_RUNTIME_DIR": str(work / "rt"),
           "JUPYTERLAB_SETTINGS_DIR": str(work / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(work / "ws")}
    _quiet_settings(work / "settings")
    root = work / "root"
    root.mkdir()
    path = _write_notebook(root)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--ServerApp.allow_root=True", "--LabApp.expose_app_in_browser=True",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.news_url=None"]
    log = (work / "lab.log").open("w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(base, token, server, work / "lab.log")
        yield {"base": base, "token": token, "path": path, "work": work}
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the kernels it started
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _wait_for_server(base: str, token: str, server: subprocess.Popen, log: Path) -> None:
    for _ in range(120):
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer in 60 s:\n{log.read_text()[-3000:]}")


def _screenshot_dir(work: Path) -> Path:
    folder = Path(os.environ.get("VGAN_SCREENSHOTS", work / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


STEP = re.compile(r"^step (\d+) \|")


def test_dashboard_trains_live_in_chromium(lab):
    from playwright.sync_api import expect, sync_playwright

    shots = _screenshot_dir(lab["work"])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage",
                                          "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        try:
            _drive(page, lab, shots, expect)
        except Exception:
            page.screenshot(path=str(shots / "99_failure.png"), full_page=True)
            print("status bar:", page.locator("#jp-main-statusbar").inner_text())
            print("screenshots in", shots)
            raise
        finally:
            browser.close()
    print("screenshots in", shots)


def _drive(page, lab: dict, shots: Path, expect) -> None:
    """Open, run all, Start, watch updates with the kernel idle, Pause, watch it stop."""
    page.goto(f"{lab['base']}/lab/tree/{lab['path']}?token={lab['token']}")
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(panel).to_be_visible(timeout=120_000)
    page.wait_for_function("window.jupyterapp !== undefined", timeout=60_000)
    page.evaluate("async () => { await window.jupyterapp.shell.currentWidget"
                  ".sessionContext.ready; }")
    expect(page.locator("#jp-main-statusbar").get_by_text("Idle")).to_be_visible(timeout=120_000)
    page.evaluate("""() => Promise.race([
        window.jupyterapp.commands.execute('notebook:run-all-cells'),
        new Promise((_, reject) => setTimeout(
            () => reject(new Error('run-all-cells timed out')), 240000))])""")
    # scope to outputs (the source code holds the same class names) and to one dashboard
    dash = panel.locator(".jp-OutputArea-output").filter(
        has=page.locator(".vgan-start")).first
    start, pause = dash.locator(".vgan-start"), dash.locator(".vgan-pause")
    status = dash.locator(".vgan-status")
    curves, samples = dash.locator("img.vgan-curves"), dash.locator("img.vgan-samples")
    expect(start).to_be_enabled(timeout=120_000)
    expect(page.locator("#jp-main-statusbar").get_by_text("Idle")).to_be_visible(timeout=240_000)
    steps_box = dash.locator(".vgan-steps input")
    steps_box.fill("1000000")  # long enough that only Pause stops it
    steps_box.press("Enter")
    page.screenshot(path=str(shots / "01_rendered.png"), full_page=True)

    seen = {"curves": {curves.get_attribute("src")}, "samples": {samples.get_attribute("src")}}
    start.click()
    expect(status).to_have_text(re.compile(r"\| running$"), timeout=60_000)
    for _ in range(2):  # two fresh renders of each picture while training
        _wait_for_new_src(page, curves, seen["curves"])
        _wait_for_new_src(page, samples, seen["samples"])
    kernel = page.evaluate("() => window.jupyterapp.shell.currentWidget"
                           ".sessionContext.session.kernel.status")
    assert kernel == "idle", f"the kernel should idle while the thread trains, was {kernel}"
    expect(status).to_have_text(re.compile(r"\| running$"))
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=samples.element_handle())
    page.screenshot(path=str(shots / "02_training.png"), full_page=True)

    pause.click()  # handled by the idle kernel while the thread trains
    expect(status).to_have_text(re.compile(r"\| paused$"), timeout=60_000)
    stopped = STEP.match(status.inner_text()).group(1)
    assert int(stopped) > 0
    time.sleep(2.0)
    assert STEP.match(status.inner_text()).group(1) == stopped, "training went on after Pause"
    expect(start).to_be_enabled()
    page.screenshot(path=str(shots / "03_paused.png"), full_page=True)


def _wait_for_new_src(page, image, seen: set, timeout_ms: int = 60_000) -> None:
    """Wait until ``image`` shows a picture it has not shown before (a new blob URL)."""
    page.wait_for_function("([img, seen]) => img.src && !seen.includes(img.src)",
                           arg=[image.element_handle(), sorted(s for s in seen if s)],
                           timeout=timeout_ms)
    seen.add(image.get_attribute("src"))
