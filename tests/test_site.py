"""The static site: built from the runs folder, the same rows as the CSV, user text escaped, and
checked in headless Chromium (Debian's `chromium` and `chromium-driver`, driven by Selenium): every
CSV row with its numbers, sorting in each metric's direction, every image loaded, no console errors."""

import math
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from genbench.api import bench, site
from genbench.leaderboard.records import metric_columns
from genbench.leaderboard.table import cell
from genbench.metrics import output_spec
from tests.conftest import REPO, assert_one_line_error

HOSTILE_NAME = "ring8/<script>alert(1)</script>"  # a recipe id is a path under baselines/: user text
HOSTILE_TEXT = "<script>alert(2)</script><img src=x onerror=alert(3)> & \"quoted\""
RECIPES = [HOSTILE_NAME, "grid25/gmm", "grid25/gmm-k1", "digits/gmm"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A suite of four cheap recipes (two seeds each), one named and described with markup, run
    and published as a site."""
    root = tmp_path_factory.mktemp("site")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        mp.setenv("GENBENCH_CACHE", str(root / "cache"))
        mp.setenv("GENBENCH_OFFLINE", "1")
        baselines = root / "baselines"
        shutil.copytree(REPO / "baselines", baselines)
        for rid in RECIPES:
            source = "ring8/gmm" if rid == HOSTILE_NAME else rid
            text = (REPO / f"baselines/{source}.toml").read_text().replace("seeds = [0, 1, 2]", "seeds = [0, 1]")
            if rid == HOSTILE_NAME:
                text = text.replace('description = "', f"description = {HOSTILE_TEXT!r}\n# ", 1)
            (baselines / f"{rid}.toml").parent.mkdir(parents=True, exist_ok=True)
            (baselines / f"{rid}.toml").write_text(text)
        (baselines / "suites.toml").write_text(f"[web]\ndescription = {HOSTILE_TEXT!r}\nrecipes = {RECIPES!r}\n")
        bench("web", runs=root / "runs", leaderboards=root / "lb", baselines=baselines, quiet=True)
        out = site(runs=root / "runs", leaderboards=root / "lb", baselines=baselines)
    return {"root": root, "site": root / "lb/site", "csv": root / "lb/web.csv", "out": out}


@pytest.mark.slow
def test_the_site_has_an_index_and_a_page_of_escaped_user_text(built):
    index = (built["site"] / "index.html").read_text()
    page = (built["site"] / "web.html").read_text()
    assert 'href="web.html"' in index and [p.name for p in built["out"]["pages"]] == ["web.html"]
    assert "<script>alert" not in page + index and "onerror=alert" not in page.replace("&lt;img src=x onerror=alert", "")
    assert "&lt;script&gt;alert(2)&lt;/script&gt;&lt;img src=x onerror=alert(3)&gt; &amp; &#34;quoted&#34;" in page
    assert 'data-recipe="ring8/&lt;script&gt;alert(1)&lt;/script&gt;"' in page
    assert page.count("<script") == 1  # site.js, nothing else
    assert (built["site"] / "web/ring8--<script>alert(1)<--script>.png").is_file()
    assert 'src="web/ring8--%3Cscript%3Ealert%281%29%3C--script%3E.png"' in page


def test_user_text_renders_as_text_without_a_run(tmp_path):
    """The fast check of escaping, from hand-made records (no training)."""
    from types import SimpleNamespace

    from genbench.leaderboard import Board
    from genbench.leaderboard.records import aggregate
    from genbench.leaderboard.site import write_page

    records = [{"recipe": HOSTILE_NAME, "recipe_hash": "h", "seed": s, "dataset": "ring8", "model": "gmm",
                "metrics": {"nll": 1.0 + s}, "score": {"samples": 10}, "train": {"wall_time_s": 1.0}} for s in (0, 1)]
    recipe = SimpleNamespace(id=HOSTILE_NAME, description=HOSTILE_TEXT)
    board = Board("web", HOSTILE_TEXT, [recipe], records, aggregate(records), [], {})
    page = write_page(board, {HOSTILE_NAME: b"not shown"}, tmp_path).read_text()
    assert page.count("<script") == 1 and "<img src=x" not in page
    assert page.count("&lt;script&gt;alert(2)&lt;/script&gt;&lt;img src=x onerror=alert(3)&gt; &amp; &#34;quoted&#34;") == 2
    assert 'data-recipe="ring8/&lt;script&gt;alert(1)&lt;/script&gt;"' in page
    assert 'data-value="1.5" title="seed 0: 1, seed 1: 2">1.5000 ± 0.7071<' in page


def test_site_refuses_a_runs_folder_without_records(cli, tmp_path):
    code, _, err = cli("site", "--runs", tmp_path / "none", "--leaderboards", tmp_path / "lb")
    assert_one_line_error(code, err, "no run records for any suite")
    assert not (tmp_path / "lb").exists()


@pytest.fixture(scope="module")
def browser():
    """Skips, before `built` runs anything, without selenium (`genbench[site]`) or Debian's chromium;
    requested before `built`, so pytest sets it up first."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="the browser test needs selenium: "
                                                                 "pip install -e '.[site]'")
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver:
        pytest.skip("the browser test needs Debian's chromium and chromium-driver")
    return webdriver, binary, driver


def chromium(browser):
    webdriver, binary, driver = browser
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1400"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))


ROWS_JS = """
return Array.from(arguments[0].tBodies).map((b) => ({
  recipe: b.dataset.recipe,
  cells: Object.fromEntries(Array.from(b.querySelectorAll('tr.main td[data-key]'))
                            .map((td) => [td.dataset.key, [td.dataset.value, td.textContent]]))}));
"""


@pytest.mark.slow  # eight runs first: about a minute and a half on 2 shared CPU cores
def test_the_page_in_headless_chromium(browser, built, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    driver = chromium(browser)
    try:
        driver.get((built["site"] / "index.html").as_uri())
        assert driver.find_element(By.CSS_SELECTOR, ".suites .ran").text == f"{len(RECIPES)} of {len(RECIPES)} run"
        driver.find_element(By.LINK_TEXT, "web").click()
        assert driver.title == "Leaderboard: web"
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert.text  # noqa: B018 (the hostile markup ran no script)
        assert driver.execute_script("return document.scripts.length") == 1
        assert HOSTILE_TEXT in driver.find_element(By.CSS_SELECTOR, "p.description").text
        assert driver.execute_script("return document.querySelectorAll('img[src=\"x\"]').length") == 0

        # Every CSV row, with the same numbers, in its dataset's table.
        csv = pd.read_csv(built["csv"])
        tables = driver.find_elements(By.CSS_SELECTOR, "table.board")
        shown = {r["recipe"]: r["cells"] for t in tables for r in driver.execute_script(ROWS_JS, t)}
        assert sorted(shown) == sorted(csv["recipe"]) == sorted(RECIPES)
        for row in csv.to_dict("records"):
            for m in metric_columns(csv):
                if m not in shown[row["recipe"]]:
                    assert math.isnan(row[m]) or row["dataset"] == "", (row["recipe"], m)
                    continue
                value, text = shown[row["recipe"]][m]
                assert (value == "" and math.isnan(row[m])) or float(value) == row[m], (row["recipe"], m, value)
                assert text == cell(row[m], row.get(f"{m}_std")), (row["recipe"], m, text)

        # Sorting: best first in the metric's direction, then reversed.
        grid = next(t for t in tables if t.get_attribute("data-dataset") == "grid25")
        for th in grid.find_elements(By.CSS_SELECTOR, "th.metric"):
            key, orders = th.get_attribute("data-key"), []
            for click in range(2):
                th.find_element(By.TAG_NAME, "button").click()
                rows = driver.execute_script(ROWS_JS, grid)
                values = [float(r["cells"][key][0]) for r in rows if r["cells"][key][0] != ""]
                best_first = output_spec(key).direction == "higher"
                descending = best_first if click == 0 else not best_first
                assert values == sorted(values, reverse=descending), (key, click, values)
                orders.append([r["recipe"] for r in rows])
            if len(set(values)) == len(values) == 2:
                assert orders[0] == orders[1][::-1], (key, orders)  # the rows moved

        # Every image loaded; a thumbnail enlarges; a recipe's seeds open.
        thumbs = driver.find_elements(By.CSS_SELECTOR, "img.thumb")
        assert len(thumbs) == len(RECIPES)
        for img in driver.find_elements(By.CSS_SELECTOR, "img[src]"):
            assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 0, \
                img.get_attribute("src")
        # Each in view at the window's width, however many metric columns follow (the samples come second).
        for img in thumbs:
            box = driver.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.right, r.height];", img)
            assert box[0] <= driver.execute_script("return window.innerWidth") and box[1] >= 150, box
        full = thumbs[-1].find_element(By.XPATH, "ancestor::a").get_attribute("href")
        thumbs[-1].click()
        big = driver.find_element(By.CSS_SELECTOR, "dialog#enlarged img")
        assert big.is_displayed() and driver.execute_script("return arguments[0].naturalWidth", big) > 0
        assert big.get_attribute("src") == full and driver.current_url.endswith("web.html")  # in place, not followed
        assert big.size["height"] > thumbs[-1].size["height"]
        shot = tmp_path / "site.png"
        driver.save_screenshot(str(shot))
        big.click()
        toggle = driver.find_element(By.CSS_SELECTOR, "tbody.recipe button.toggle")
        toggle.click()
        seeds = toggle.find_element(By.XPATH, "ancestor::tbody").find_element(By.CSS_SELECTOR, "tr.seeds")
        assert seeds.is_displayed() and len(seeds.find_elements(By.CSS_SELECTOR, "table.per-seed tbody tr")) == 2
        assert driver.find_elements(By.CSS_SELECTOR, "section.modes tr.collapsed")  # grid25/gmm-k1 misses modes

        shot_table = tmp_path / "site-table.png"
        driver.save_screenshot(str(shot_table))
        print(f"screenshots: {shot} {shot_table}")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        driver.quit()


def test_the_browser_test_skips_without_selenium(tmp_path):
    """README: without `genbench[site]` the browser test skips (it failed with ModuleNotFoundError,
    after its eight runs, where chromium was present), whether or not chromium is."""
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in ("chromium", "chromedriver"):
        (fake / name).write_text("#!/bin/sh\nexit 1\n")
        (fake / name).chmod(0o755)
    block = ("import sys; sys.modules['selenium'] = None; import pytest; "
             "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-rs', "
             "'tests/test_site.py::test_the_page_in_headless_chromium']))")
    env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}",
           "GENBENCH_CACHE": str(tmp_path / "cache"), "GENBENCH_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", block], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "1 skipped" in done.stdout and "needs selenium" in done.stdout, \
        done.stdout + done.stderr


# What ran (issue 38 item 8): the index's "n of m run", thumbnails that enlarge, flagged rows.
MINI = ["ring8/gmm", "grid25/gmm", "digits/gmm"]
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def write_record(runs, recipe, seed, metrics, unscored=None, digest=None, version=None):
    """A sealed record as a run writes it, without the run: `digest` and `version` stand for an older recipe's."""
    import json

    from genbench.record_file import seal

    record = {"recipe": recipe.id, "recipe_hash": digest or recipe.hash, "recipe_version": version or recipe.version,
              "seed": seed, "dataset": recipe.dataset, "model": recipe.id.split("/")[1], "metrics": metrics,
              "score": {"n_samples": 10, "unscored": unscored or {}}, "train": {"wall_time_s": 1.0}, "device": "cpu"}
    folder = tmp_run_dir(runs, recipe, seed)
    (folder / "record.json").write_text(json.dumps(seal(record)))
    return folder


def tmp_run_dir(runs, recipe, seed):
    from genbench.runs import run_dir

    folder = run_dir(runs, recipe, seed)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def ran(tmp_path):
    """A suite of three recipes, made of hand-written records (no training): ring8/gmm with seeds 0
    and 1 current and seed 2 recorded by an older version of the recipe, grid25/gmm with seed 1's
    sample metrics unscored (its samples were NaN), digits/gmm only stale; two with a sample plot."""
    from genbench.recipes import load_recipe

    baselines = tmp_path / "baselines"
    shutil.copytree(REPO / "baselines", baselines)
    (baselines / "suites.toml").write_text(f"[mini]\ndescription = \"three\"\nrecipes = {MINI!r}\n")
    ring, grid, digits = (load_recipe(r, baselines) for r in MINI)
    runs = tmp_path / "runs"
    for s in (0, 1):
        write_record(runs, ring, s, {"nll": 1.0 + s, "modes": 8})
    (tmp_run_dir(runs, ring, 0) / "samples.png").write_bytes(PNG)
    write_record(runs, ring, 2, {"nll": 9.0, "modes": 8}, digest="0ld0ld0ld0ld", version=1)
    for s in (0, 1, 2):
        nan = {"modes": "the model's sampler returned 3 of 10 samples with NaN or infinite values"} if s == 1 else {}
        folder = write_record(runs, grid, s, {"nll": 2.0} if nan else {"nll": 2.0, "modes": 25}, unscored=nan)
        if s == 0:
            (folder / "samples.png").write_bytes(PNG)
    for s in digits.seeds:
        write_record(runs, digits, s, {"nll": 100.0}, digest="0ld0ld0ld0ld", version=1)
    return {"runs": runs, "baselines": baselines, "out": tmp_path / "lb", "recipes": (ring, grid, digits)}


def test_the_index_says_how_many_of_a_suites_recipes_ran(ran):
    from genbench.leaderboard import build_site

    build_site(ran["runs"], ran["out"], ran["baselines"])
    index = (ran["out"] / "site/index.html").read_text()
    assert "2 of 3 run" in index and "recipes)" not in index  # digits/gmm's records are all stale


def test_a_thumbnail_is_a_large_link_to_its_full_size_plot_beside_the_recipe(ran):
    from genbench.leaderboard import build_site

    build_site(ran["runs"], ran["out"], ran["baselines"])
    page = (ran["out"] / "site/mini.html").read_text()
    link = '<a class="enlarge" href="mini/ring8--gmm.png" title="enlarge"><img class="thumb" src="mini/ring8--gmm.png"'
    assert link in page
    assert (ran["out"] / "site/mini/ring8--gmm.png").read_bytes() == PNG
    # The samples column comes second, so a table wider than the window scrolls its metrics, not the plots.
    header = page.split("<thead><tr>", 1)[1].split("</tr>", 1)[0]
    assert header.index("<th>recipe</th>") < header.index(">samples</th>") < header.index("<th>model</th>")
    row = page.split('<tr class="main', 1)[1].split("</tr>", 1)[0]
    assert row.index('class="name"') < row.index('class="samples"') < row.index('class="num" data-key')
    css = (ran["out"] / "site/site.css").read_text()
    assert "img.thumb { height: 160px;" in css


def test_a_row_with_unscored_or_stale_seeds_is_flagged_with_why_on_the_page(ran):
    from genbench.leaderboard import build_site

    ring = ran["recipes"][0]
    build_site(ran["runs"], ran["out"], ran["baselines"])
    page = (ran["out"] / "site/mini.html").read_text()
    rows = {b.split('"', 1)[0]: b for b in page.split('<tbody class="recipe" data-recipe="')[1:]}
    assert '<tr class="main flagged">' in rows["ring8/gmm"] and '<tr class="main flagged">' in rows["grid25/gmm"]
    assert 'href="#flag-1"' in rows["ring8/gmm"] and 'href="#flag-2"' in rows["grid25/gmm"]
    footnotes = page.split('<section class="flags">', 1)[1].split("</section>", 1)[0]
    assert (f'<li id="flag-1" value="1"><code>ring8/gmm</code>: seed 2: its record was made by recipe version 1, '
            f"hash 0ld0ld0ld0ld; the recipe is now version {ring.version}, hash {ring.hash}: stale, left out</li>"
            ) in footnotes
    assert ('<li id="flag-2" value="2"><code>grid25/gmm</code>: seed 1 left modes unscored: the model&#39;s sampler '
            "returned 3 of 10 samples with NaN") in footnotes
    assert "digits/gmm" not in footnotes  # no row to flag: it is not yet run, saying why
    assert ("<code>digits/gmm (3 of 3 seeds); seed 0: its record was made by recipe version 1, "
            "hash 0ld0ld0ld0ld;") in page


def test_a_flagged_row_is_marked_in_the_markdown_with_a_footnote(ran):
    from genbench.leaderboard import build_leaderboard

    ring = ran["recipes"][0]
    build_leaderboard("mini", ran["runs"], ran["out"], ran["baselines"])
    md = (ran["out"] / "mini.md").read_text()
    assert "| `ring8/gmm` ⚠ | gmm | 2 |" in md and "| `grid25/gmm` ⚠ | gmm | 3 |" in md
    flagged = md.split("**⚠ Flagged**", 1)[1].split("\n\n", 2)[1].splitlines()
    assert flagged == [
        f"- `ring8/gmm`: seed 2: its record was made by recipe version 1, hash 0ld0ld0ld0ld; the recipe is now "
        f"version {ring.version}, hash {ring.hash}: stale, left out",
        "- `grid25/gmm`: seed 1 left modes unscored: the model's sampler returned 3 of 10 samples "
        "with NaN or infinite values"]
    assert "digits/gmm (3 of 3 seeds); seed 0: its record was made by recipe version 1, hash 0ld0ld0ld0ld;" in md


def test_a_row_of_current_finite_seeds_is_not_flagged():
    from genbench.leaderboard.records import aggregate
    from genbench.leaderboard.table import to_markdown

    records = [{"recipe": "ring8/gmm", "recipe_hash": "h", "seed": s, "dataset": "ring8", "model": "gmm",
                "metrics": {"nll": 1.0}, "score": {"n_samples": 10, "unscored": {}}, "train": {"wall_time_s": 1.0}}
               for s in (0, 1)]
    md = to_markdown(aggregate(records), "t", "", records, {}, [])
    assert "⚠" not in md and "| `ring8/gmm` | gmm | 2 |" in md
