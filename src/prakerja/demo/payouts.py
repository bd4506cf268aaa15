"""The demo's money after training: the reference partner's participants rate their training, fill their
surveys, link payout accounts and are paid through the provider simulator in approved batches; platforms get
their statements. Their training was completed some months ago, so every instalment is due today."""

import dataclasses
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from prakerja.accounts.models import Role, User
from prakerja.accounts.services import user_create
from prakerja.catalog.models import Listing, ListingStatus, Review, TrainingStatus
from prakerja.catalog.services import listing_create, listing_withdraw
from prakerja.enrolment.models import Purchase, PurchaseStatus
from prakerja.enrolment.services import (
    attendance_report,
    completion_report,
    purchase_create,
    training_rate,
    voucher_redeem,
)
from prakerja.ledger.selectors import balance
from prakerja.partners.selectors import IN_GOOD_STANDING
from prakerja.payments import services as payments
from prakerja.payments.models import Batch, Entitlement, Payment, PayoutAccount, Provider
from prakerja.payments.simulator import Simulator, SimulatorConfig
from prakerja.surveys.models import Invitation
from prakerja.surveys.services import invitations_create, response_submit

ALUMNUS = "alumni"  # the demo login of a participant who received the whole 2020 benefit
MONTHS_AGO = 130  # days since the demo cohort completed: past every instalment and survey of the scheme
ROUNDS = 3  # batches at most: a payment that failed is tried again in the next one
SIMULATOR_PORT = 8765
FAILURE_RATE = 0.05


@dataclass
class DemoPayouts:
    paid: int = 0
    failed: int = 0
    batches: int = 0
    statements: int = 0


def demo_simulator(*, work_dir: Path, callback_url: str | None = None) -> Simulator:
    """The provider simulator on loopback, its state kept in the work folder so keys are never paid twice."""
    config = SimulatorConfig(
        port=SIMULATOR_PORT,
        secret=settings.PAYMENT_PROVIDER_SECRET,
        callback_url=callback_url,
        failure_rate=FAILURE_RATE,
        return_rate=0.0,
        seed=7,
        state_file=work_dir / "demo-provider-state.jsonl",
    )
    try:
        simulator = Simulator(config)
        settings.PAYMENT_PROVIDER_URL = simulator.start()
    except OSError:  # the port is taken (another demo is serving): any free port
        simulator = Simulator(dataclasses.replace(config, port=0))
        settings.PAYMENT_PROVIDER_URL = simulator.start()
    return simulator


def _answers(questions: list[dict[str, Any]], rng: random.Random) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for question in questions:
        if question["kind"] == "scale":
            answers[question["code"]] = rng.choice((3, 4, 4, 5, 5))
        elif question["kind"] == "choice":
            answers[question["code"]] = rng.choice(question["options"])["value"]
    return answers


def _backdate(cohort: list[Purchase], now: datetime) -> None:
    """The demo's history: the cohort finished its training MONTHS_AGO days ago."""
    completed = now - timedelta(days=MONTHS_AGO)
    Purchase.objects.filter(pk__in=[p.pk for p in cohort]).update(completed_at=completed)
    for purchase in cohort:
        Review.objects.filter(training_id=purchase.training_id, applicant=purchase.card.applicant).update(
            created_at=completed + timedelta(hours=2)
        )


def _spend_the_rest(purchase: Purchase) -> None:
    """The alumnus spends the whole balance on a second training, which the platform re-prices to what is
    left (a platform may sell below the training's price)."""
    card, platform = purchase.card, purchase.platform
    left = balance(card.account_code)
    listings = (
        Listing.objects.filter(
            platform=platform,
            status=ListingStatus.ACTIVE,
            training__status=TrainingStatus.APPROVED,
            training__mode="online",
            training__price__gte=left,
            training__institution__status__in=IN_GOOD_STANDING,
        )
        .exclude(training_id=purchase.training_id)
        .select_related("training__institution")
        .order_by("training__price", "pk")
    )
    listing = listings.first() if left > 0 else None
    if listing is None:
        return
    training, institution = listing.training, listing.training.institution
    listing_withdraw(listing=listing, actor="system:demo")
    listing_create(platform=platform, training=training, price=left, actor="system:demo")
    bought = purchase_create(platform=platform, card_number=card.number, training_id=training.pk)
    voucher_redeem(institution=institution, code=bought.voucher_code)
    now = timezone.now()
    attendance_report(
        institution=institution,
        code=bought.voucher_code,
        started_at=now - timedelta(hours=training.hours),
        ended_at=now,
        method="online_log",
        evidence="LMS log",
    )
    completion_report(institution=institution, code=bought.voucher_code)


def _alumnus(applicant: Any) -> None:
    """A login for the first of the cohort, to see the participant's page of a fully paid recipient."""
    if User.objects.filter(username=ALUMNUS).exists() or applicant.user_id:
        return
    from prakerja.demo.services import DEMO_PASSWORD

    user = user_create(
        username=ALUMNUS,
        password=DEMO_PASSWORD,
        role=Role.PARTICIPANT,
        first_name=applicant.full_name,
        email="alumni@demo.prakerja.example",
        phone="081200000099",
        actor="system:demo",
    )
    user.email_verified_at = user.phone_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at", "phone_verified_at"])
    applicant.user = user
    applicant.save(update_fields=["user"])


def demo_payouts(*, actor: str = "system:demo") -> DemoPayouts:
    """Rate, survey, link accounts, book incentives, pay them in approved batches; safe to run again."""
    result = DemoPayouts()
    cohort = list(
        Purchase.objects.filter(status=PurchaseStatus.COMPLETED)
        .exclude(card__entitlements__isnull=False)
        .select_related("card__applicant", "training")
        .order_by("pk")
    )
    rng = random.Random(11)
    now = timezone.now()
    if cohort:
        _alumnus(cohort[0].card.applicant)
        _spend_the_rest(cohort[0])
        with transaction.atomic():
            for n, purchase in enumerate(cohort):
                if n % 7 != 6:  # a few never rate: their incentive does not start
                    training_rate(
                        purchase=purchase,
                        applicant=purchase.card.applicant,
                        rating=rng.randint(3, 5),
                        text="",
                    )
            _backdate(cohort, now)
        invitations_create(now=now)
        for n, purchase in enumerate(cohort):
            applicant = purchase.card.applicant
            filled = 3 if n % 3 == 0 else n % 3  # the alumnus and every third fill all three surveys
            for invitation in Invitation.objects.filter(
                applicant=applicant, completed_at__isnull=True
            ).order_by("sequence")[:filled]:
                moment = timezone.make_aware(
                    datetime.combine(invitation.opens_on, datetime.min.time())
                ) + timedelta(hours=10)
                response_submit(
                    invitation=invitation,
                    applicant=applicant,
                    answers=_answers(invitation.item.instrument.questions, rng),
                    now=moment,
                )
            if not PayoutAccount.objects.filter(applicant=applicant).exists():
                provider = Provider.values[n % len(Provider.values)]
                number = f"9{applicant.pk:08d}1" if provider == "bni" else f"0813{applicant.pk:07d}1"
                payments.payout_account_set(applicant=applicant, provider=provider, number=number)
    payments.entitlements_schedule(actor=actor, now=now)
    maker = User.objects.filter(username="pmo.keuangan").first()
    checker = User.objects.filter(username="pmo.bendahara").first()
    for _round in range(ROUNDS):
        try:
            batch = payments.batch_build(actor=maker or actor)
        except payments.BatchEmpty:
            break
        payments.batch_approve(batch=batch, actor=checker or "system:demo-checker")
        payments.batch_send(batch=batch, actor=checker or actor)
        _reconcile(batch, actor=checker or actor)
        result.batches += 1
    result.statements = len(payments.statements_issue(period_end=timezone.localdate(), actor=maker or actor))
    result.paid = Entitlement.objects.filter(status="paid").count()
    result.failed = Payment.objects.filter(state="failed").count()
    return result


def _reconcile(batch: Batch, *, actor: Any) -> None:
    """Fetch each provider's settlement file and reconcile it (the demo serves no callbacks while seeding)."""
    adapter = payments.providers()
    folder = Path(settings.WORK_DIR) / "settlements"
    folder.mkdir(exist_ok=True)
    for provider in batch.payments.values_list("provider", flat=True).distinct():
        path = folder / f"{provider}-batch-{batch.pk}.csv"
        path.write_text(adapter.settlement(provider=provider))
        try:
            payments.reconcile(provider=provider, path=path, actor=actor)
        except payments.AlreadyReconciled:
            continue
