import pytest
from django.db import connection, transaction

from prakerja.accounts.models import User
from prakerja.core.crypto import blind_index, decrypt, encrypt, mask
from prakerja.core.models import Channel, OutboxMessage, OutboxStatus
from prakerja.core.notifications import notify, outbox_deliver


def test_encryption_round_trips_with_a_fresh_nonce() -> None:
    first, second = encrypt("3276014501990003"), encrypt("3276014501990003")
    assert first != second
    assert "3276014501990003" not in first
    assert decrypt(first) == decrypt(second) == "3276014501990003"


def test_tampered_ciphertext_is_refused() -> None:
    token = encrypt("081234567890")
    version, payload = token.split(":")
    flipped = payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB")
    with pytest.raises(Exception):  # noqa: B017 - AES-GCM raises InvalidTag, base64 may raise first
        decrypt(f"{version}:{flipped}")


def test_blind_index_is_deterministic_per_purpose() -> None:
    assert blind_index("3276014501990003", purpose="nik") == blind_index(" 3276014501990003 ", purpose="nik")
    assert blind_index("3276014501990003", purpose="nik") != blind_index("3276014501990003", purpose="kk")
    assert blind_index("3276014501990003", purpose="nik") != blind_index("3276014501990004", purpose="nik")


def test_mask_keeps_the_last_four_digits() -> None:
    assert mask("3276014501990003") == "************0003"


@pytest.mark.django_db
def test_phone_is_encrypted_in_the_database(make_user) -> None:
    user = make_user(phone="081234567890")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT phone FROM {User._meta.db_table} WHERE id = %s", [user.id])
        stored = cursor.fetchone()[0]
    assert "081234567890" not in stored
    assert User.objects.get(pk=user.pk).phone == "081234567890"
    assert User.objects.get(phone_index=blind_index("081234567890", purpose="phone")) == user


@pytest.mark.django_db
def test_outbox_delivers_after_commit_and_not_on_rollback(
    settings, tmp_path, django_capture_on_commit_callbacks
) -> None:
    settings.NOTIFY_BACKEND = "file"
    settings.NOTIFY_DIR = tmp_path
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = notify(channel=Channel.SMS, recipient="081234567890", body="Kode: 123456")
        assert OutboxMessage.objects.get(pk=message.pk).status == OutboxStatus.PENDING
    assert len(callbacks) == 1
    assert OutboxMessage.objects.get(pk=message.pk).status == OutboxStatus.SENT
    assert "Kode: 123456" in (tmp_path / "sms.log").read_text()

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        notify(channel=Channel.EMAIL, recipient="a@example.org", subject="s", body="never")
        raise RuntimeError("the business action failed")
    assert callbacks == []
    assert not OutboxMessage.objects.filter(body="never").exists()


@pytest.mark.django_db
def test_failed_delivery_is_retried_then_marked_failed(settings, tmp_path) -> None:
    settings.NOTIFY_BACKEND = "file"
    settings.NOTIFY_DIR = tmp_path / "missing" / "x"
    (tmp_path / "missing").write_text("a file where a folder should be")
    message = OutboxMessage.objects.create(channel=Channel.EMAIL, recipient="a@example.org", body="hi")
    for attempt in range(1, 6):
        assert outbox_deliver() == 0
        message.refresh_from_db()
        assert message.attempts == attempt
    assert message.status == OutboxStatus.FAILED


@pytest.mark.django_db
def test_django_mail_goes_through_the_outbox(settings, tmp_path) -> None:
    from django.core.mail import send_mail

    settings.NOTIFY_BACKEND = "file"
    settings.NOTIFY_DIR = tmp_path
    send_mail("Subject here", "Body here", None, ["someone@example.org"])
    stored = OutboxMessage.objects.get(subject="Subject here")
    assert stored.channel == Channel.EMAIL
    assert stored.recipient == "someone@example.org"
