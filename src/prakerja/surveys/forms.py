"""Survey forms: a participant's answers (one field per question), an instrument as JSON, a scheme's
schedule."""

import json
from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from prakerja.surveys import rules
from prakerja.surveys.models import Instrument
from prakerja.surveys.selectors import in_language
from prakerja.waves.models import Scheme


class AnswerForm(forms.Form):
    """One field per question, named by its code: radio buttons for a choice or a 1-5 scale, a text area
    for text. Validation is the service's (rules.answer_problems); the form only collects."""

    def __init__(self, questions: list[Mapping[str, Any]], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.questions = questions
        for q in questions:
            label = in_language(q["text_id"], q["text_en"])
            required = rules.is_required(q)
            field: forms.Field
            if q["kind"] == rules.CHOICE:
                field = forms.CharField(
                    label=label,
                    required=False,
                    widget=forms.RadioSelect(
                        choices=[
                            (o["value"], in_language(o["label_id"], o["label_en"])) for o in q["options"]
                        ]
                    ),
                )
            elif q["kind"] == rules.SCALE:
                field = forms.CharField(
                    label=label,
                    required=False,
                    widget=forms.RadioSelect(
                        choices=[(str(n), str(n)) for n in range(rules.SCALE_MIN, rules.SCALE_MAX + 1)]
                    ),
                )
            else:
                field = forms.CharField(
                    label=label,
                    required=False,
                    strip=False,
                    widget=forms.Textarea(attrs={"rows": 3, "maxlength": rules.MAX_TEXT_LENGTH}),
                )
            if not required:
                field.help_text = _("Optional.")
            self.fields[q["code"]] = field

    def answers(self) -> dict[str, Any]:
        return {q["code"]: self.cleaned_data.get(q["code"], "") for q in self.questions}


QUESTIONS_HELP = _(
    'A JSON list of questions. Each: {"code": "employment", "kind": "choice" | "scale" | "text", '
    '"text_id": "...", "text_en": "...", "required": true, "options": [{"value": "working", '
    '"label_id": "...", "label_en": "..."}]}. A scale is answered 1 to 5. The outcome page reads the '
    "questions coded employment (options working and business), competence and satisfaction."
)


class InstrumentForm(forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=40)
    title_id = forms.CharField(label=_("Title in Indonesian"), max_length=150)
    title_en = forms.CharField(label=_("Title in English"), max_length=150)
    questions = forms.CharField(
        label=_("Questions (JSON)"),
        widget=forms.Textarea(attrs={"rows": 20, "spellcheck": "false"}),
        help_text=QUESTIONS_HELP,
        max_length=100_000,
    )
    active = forms.BooleanField(label=_("Active (may be put in a schedule)"), required=False, initial=True)

    def __init__(self, *args: Any, instrument: Instrument | None = None, **kwargs: Any) -> None:
        if instrument is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "code": instrument.code,
                "title_id": instrument.title_id,
                "title_en": instrument.title_en,
                "questions": json.dumps(instrument.questions, ensure_ascii=False, indent=2),
                "active": instrument.active,
            }
        super().__init__(*args, **kwargs)
        if instrument is not None:
            self.fields["code"].disabled = True

    def clean_questions(self) -> Any:
        try:
            return json.loads(self.cleaned_data["questions"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                _("This is not valid JSON (line %(line)d, column %(column)d: %(error)s)."),
                params={"line": exc.lineno, "column": exc.colno, "error": exc.msg},
            ) from exc


class ScheduleForm(forms.Form):
    """One row per survey the scheme pays for: the instrument, days after the first completed training, how
    long it stays open."""

    def __init__(self, scheme: Scheme, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scheme = scheme
        choices = [("", "—")] + [
            (i.code, f"{i.code} — {in_language(i.title_id, i.title_en)}")
            for i in Instrument.objects.filter(active=True).order_by("code")
        ]
        current = {item.sequence: item for item in scheme.survey_schedule.select_related("instrument")}
        self.rows = []
        for n in range(1, scheme.survey_count + 1):
            item = current.get(n)
            self.fields[f"instrument_{n}"] = forms.ChoiceField(
                label=_("Survey %(n)d") % {"n": n},
                choices=choices,
                required=False,
                initial=item.instrument.code if item else "",
            )
            self.fields[f"days_{n}"] = forms.IntegerField(
                label=_("Days after the first completed training"),
                min_value=0,
                max_value=3650,
                initial=item.days_after_completion if item else None,
            )
            self.fields[f"open_{n}"] = forms.IntegerField(
                label=_("Days open"), min_value=1, max_value=365, initial=item.open_days if item else 30
            )
            self.rows.append((self[f"instrument_{n}"], self[f"days_{n}"], self[f"open_{n}"]))

    def items(self) -> list[dict[str, Any]]:
        data = self.cleaned_data
        return [
            {
                "instrument": data[f"instrument_{n}"],
                "days_after_completion": data[f"days_{n}"],
                "open_days": data[f"open_{n}"],
            }
            for n in range(1, self.scheme.survey_count + 1)
        ]
