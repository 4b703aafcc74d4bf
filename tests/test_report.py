"""The HTML report: its files, and how a real browser renders it."""

import base64
import json
import os
import re
import shutil
import subprocess

import numpy as np
import optuna
import pytest
from matplotlib.image import imread

from skimb import report as report_module
from skimb.report import Report, plot_optimization_history

CLASSES = np.array(["rare", "common", "middle"])


def _predictions():
    rng = np.random.RandomState(0)
    y = CLASSES[rng.choice(3, size=300, p=[0.05, 0.75, 0.2])]
    logits = rng.normal(size=(300, 3)) + 2.0 * (y[:, None] == CLASSES)
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, proba


def _study():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0)
    )
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=6)
    return study


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A report with every kind of content, written once."""
    y, proba = _predictions()
    report = Report("Test <report> & figures")
    report.add_text("Plain text with <tags> that must be escaped.")
    report.add_table(
        "Trials",
        [
            {"trial": 1, "macro-F1": 0.61234, "loss": "focal"},
            {"trial": 2, "macro-F1": np.float64(0.5), "loss": "crossentropy"},
        ],
        highlight=0,
    )
    report.add_figure(
        "Optimisation history", plot_optimization_history(_study()), "history_opt"
    )
    summary = report.add_classification(
        "Model",
        y,
        proba,
        classes=CLASSES,
        name="model",
        history={
            "loss": [1.0, 0.8, 0.7],
            "val_loss": [1.1, 0.9, 0.95],
            "val_macro_f1": [0.3, 0.5, 0.45],
        },
        best_epoch=1,
    )
    folder = tmp_path_factory.mktemp("report")
    return report.write(folder), summary, y, proba


def test_report_writes_the_page_and_every_figure(written):
    page, _, _, _ = written
    names = sorted(p.name for p in page.parent.iterdir())
    assert names == [
        "history_opt.png",
        "model_confusion_matrix.png",
        "model_history.png",
        "model_precision_recall.png",
        "report.html",
    ]
    text = page.read_text()
    embedded = re.findall(
        r'src="data:image/png;base64,([^"]+)" [^>]*data-file="([^"]+)"', text
    )
    assert len(embedded) == 4
    for data, name in embedded:
        # The embedded image is the PNG written next to the page.
        assert base64.b64decode(data) == (page.parent / name).read_bytes()
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_escapes_text_and_shows_the_numbers(written):
    page, summary, y, proba = written
    text = page.read_text()
    assert "Test &lt;report&gt; &amp; figures" in text
    assert "<tags>" not in text
    assert '<tr class="best"><td>1</td><td>0.612</td>' in text
    predicted = CLASSES[proba.argmax(axis=1)]
    from sklearn.metrics import f1_score

    assert summary["macro-F1"] == pytest.approx(f1_score(y, predicted, average="macro"))
    assert f"{summary['macro-F1']:.3f}" in text
    for label in CLASSES:
        assert f'<td class="text">{label}</td>' in text


def test_bad_content_is_refused():
    report = Report("x")
    with pytest.raises(ValueError, match="no rows"):
        report.add_table("Empty", [])
    with pytest.raises(ValueError, match="Figure names"):
        report.add_figure("x", plot_optimization_history(_study()), "../escape")
    empty = optuna.create_study()
    with pytest.raises(ValueError, match="no complete trial"):
        plot_optimization_history(empty)


def test_a_failed_section_leaves_the_report_as_it_was(tmp_path, recwarn):
    report = Report("x")
    y = np.array([0, 0, 1, 1])  # class 2 absent: scored 0, without a warning
    proba = np.array(
        [[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.1, 0.2, 0.7]]
    )
    with pytest.raises(ValueError):
        report.add_classification(
            "Model", y, proba, classes=[0, 1, 2], name="m", history={"los": [1.0]}
        )
    assert report.to_html().count("<h2>") == 0 and not report._images
    report.add_classification("Model", y, proba, classes=[0, 1, 2], name="m")
    assert sorted(report._images) == ["m_confusion_matrix", "m_precision_recall"]
    assert not [w for w in recwarn if "skimb" in w.filename or "sklearn" in w.filename]
    with pytest.raises(ValueError, match="The page's name"):
        report.write(tmp_path / "out", name="../escaped")
    assert not (tmp_path / "escaped.html").exists()


def test_interrupted_write_leaves_no_page_and_no_temporary_file(tmp_path, monkeypatch):
    report = Report("x")
    report.add_figure("History", plot_optimization_history(_study()), "history")
    real_replace = os.replace

    def interrupted(source, target):
        if str(target).endswith(".html"):
            raise KeyboardInterrupt
        real_replace(source, target)

    monkeypatch.setattr(report_module.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        report.write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.png"]


# ------------------------------------------------------------- a real browser


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    message = "Chromium is not installed (apt-get install chromium)"
    if os.environ.get("SKIMB_CI") == "1":
        pytest.fail(message + "; CI must run the browser test.")
    pytest.skip(message)


def _headless(browser, profile, *args):
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_report_renders_with_its_figures_in_headless_chromium(written, tmp_path):
    browser = _chromium()
    page, _, _, _ = written
    # The same page plus a script that records, once everything has loaded,
    # the decoded size of every image; --dump-dom prints the result.
    probe = tmp_path / "probe.html"
    script = (
        "<script>window.addEventListener('load', () => {"
        "const p = document.createElement('pre'); p.id = 'probe';"
        "p.textContent = JSON.stringify(Array.from(document.images,"
        " i => [i.naturalWidth, i.naturalHeight, i.complete]));"
        "document.body.appendChild(p); });</script>"
    )
    probe.write_text(page.read_text().replace("</body>", script + "</body>"))
    result = _headless(
        browser,
        tmp_path / "profile",
        "--virtual-time-budget=10000",
        "--dump-dom",
        probe.as_uri(),
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout)
    assert found, result.stderr[-2000:]
    images = json.loads(found.group(1))
    assert len(images) == 4
    for width, height, complete in images:
        assert complete and width > 300 and height > 200

    shot = tmp_path / "shot.png"
    _headless(
        browser,
        tmp_path / "profile",
        "--hide-scrollbars",
        "--window-size=1200,2000",
        f"--screenshot={shot}",
        page.as_uri(),
    )
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (2000, 1200)
    # Rendered text, tables and plots: many distinct colours, not a blank page.
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 200


def test_classes_named_like_the_summary_entries_get_their_rows():
    from skimb.report import Report

    classes = np.array(["avg_pre", "total_support", "b"])
    y_true = np.array(["avg_pre", "b", "b", "total_support", "avg_pre", "b"])
    y_score = np.eye(3)[[0, 2, 2, 1, 0, 0]]
    report = Report("t")
    report.add_classification("h", y_true, y_score, classes=classes, name="x")
    html = report.to_html()
    rows = re.findall(r'<tr><td class="text">([^<]+)</td><td>[^<]+</td>', html)
    assert [name for name in rows if name in classes] == list(classes)
    # Their supports: 2, 1 and 3 rows.
    for name, support in zip(classes, (2, 1, 3), strict=True):
        assert re.search(
            rf'<td class="text">{name}</td>(<td>[^<]+</td>){{5}}'
            rf"<td>{support}</td>",
            html,
        ), name


def test_macro_f1_averages_the_classes_the_data_or_predictions_hold():
    # Class 2 is neither in y nor predicted: it has no F1 to average, as in
    # scikit-learn's f1_macro (the balanced accuracy leaves it out too).
    y = np.array([0, 0, 1, 1])
    proba = np.array(
        [[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.7, 0.1]]
    )
    summary = Report("x").add_classification(
        "Model", y, proba, classes=[0, 1, 2], name="m"
    )
    assert summary["macro-F1"] == summary["balanced accuracy"] == 1.0
