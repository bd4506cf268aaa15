"""prakerja waves …: a whole wave from the command line, and clear refusals."""

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from prakerja.waves.models import Card, Entry, EntryStatus, Wave, WaveStatus
from prakerja.waves.services import draw_files, wave_join

pytestmark = pytest.mark.django_db


def _run(capsys, *args: str) -> str:
    call_command("waves", *args)
    return capsys.readouterr().out


@pytest.fixture
def quotas(tmp_path):
    path = tmp_path / "quotas.csv"
    path.write_text("region_code,quota\n31,20\n32,40\n32.73,15\n32.04,25\n")
    return path


def _dates() -> tuple[str, str]:
    now = timezone.localtime()
    return (now - timezone.timedelta(hours=1)).isoformat(), (now + timezone.timedelta(days=2)).isoformat()


def test_a_wave_runs_from_the_command_line(applicants, quotas, tmp_path, capsys) -> None:
    opens, closes = _dates()
    out = _run(capsys, "create", "1", "--name", "Gelombang 1", "--scheme", "semi-bansos-2020",
               "--opens", opens, "--closes", closes, "--total", "60", "--quotas", str(quotas),
               "--priority-employment", "laid_off")  # fmt: skip
    assert "60 places in 3 cells" in out
    assert "open" in _run(capsys, "open", "1")
    wave = Wave.objects.get(number=1)
    for applicant in applicants:
        wave_join(wave=wave, applicant=applicant)
    seed_file = tmp_path / "seed.txt"
    _run(capsys, "commit-seed", "1", "--new-seed-file", str(seed_file))
    assert oct(seed_file.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(CommandError):
        _run(capsys, "commit-seed", "1", "--new-seed-file", str(seed_file))  # never overwritten
    assert "400 entrants" in _run(capsys, "close", "1")
    out = _run(capsys, "select", "1", "--seed-file", str(seed_file))
    selected = Entry.objects.filter(wave=wave, status=EntryStatus.SELECTED).count()
    assert f"{selected} of 400 selected" in out
    assert "verifies" in _run(capsys, "verify", "1")
    inputs, manifest = draw_files(wave)
    assert "verifies" in _run(capsys, "verify", "--manifest", str(manifest), "--inputs", str(inputs))
    assert f"{selected} cards issued, 400 messages queued" in _run(capsys, "announce", "1")
    assert Card.objects.count() == selected
    assert "age_band" in _run(capsys, "fairness", "1")
    assert "0 cards revoked" in _run(capsys, "revoke-expired")
    assert Wave.objects.get(number=1).status == WaveStatus.ANNOUNCED


def test_refusals_are_clear_and_in_both_languages(applicants, tmp_path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("31,20\n32,10\n")
    opens, closes = _dates()
    with pytest.raises(CommandError) as caught:
        _run(capsys, "create", "1", "--name", "G1", "--scheme", "semi-bansos-2020", "--opens", opens,
             "--closes", closes, "--total", "60", "--quotas", str(bad))  # fmt: skip
    assert "add up to 30" in str(caught.value) and "berjumlah 30" in str(caught.value)
    with pytest.raises(CommandError, match="Unknown scheme"):
        _run(capsys, "simulate", "--scheme", "nope", "--total", "1", "--quotas", str(bad))
    with pytest.raises(CommandError):
        _run(capsys, "open", "9")
    with pytest.raises(CommandError, match=r"There is no wave 9\."):
        _run(capsys, "verify", "9")


def test_a_simulation_prints_recipients_and_budget(applicants, quotas, capsys) -> None:
    out = _run(capsys, "simulate", "--scheme", "semi-bansos-2020", "--total", "60", "--quotas", str(quotas))
    assert "Recipients 60" in out and "Rp213.000.000" in out
