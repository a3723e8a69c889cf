"""The end-of-training message says 'not reached' for a landmark the run did not reach
(issue 32, item 5), never 'at step None'."""

from __future__ import annotations

from grokinterp.cli import main


def test_end_of_training_message_says_not_reached(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--p", "11", "--train-fraction", "0.5", "--max-steps", "3", "--d-model", "16"]
    args += ["--n-heads", "2", "--d-head", "8", "--d-mlp", "32", "--log-every", "1"]
    assert main(["train", "--out", str(out), *args, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "test acc >= 99%: not reached" in printed
    assert "None" not in printed
    # info and analyze word a landmark or phase boundary the run never hit the same way
    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "test acc >= 99%: not reached" in info and "None" not in info
    assert main(["analyze", str(out), "--no-figures", "--no-progress"]) == 0
    analyzed = capsys.readouterr().out
    assert "grokking step not reached" in analyzed and "None" not in analyzed
