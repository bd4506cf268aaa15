from typing import Any

from django.contrib import admin

from prakerja.ledger.models import Account, JournalEntry


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "balance", "allow_negative"]
    search_fields = ["code", "name"]
    readonly_fields = ["balance"]


@admin.register(JournalEntry)
class JournalEntryAdmin(admin.ModelAdmin):
    list_display = ["id", "posted_at", "memo", "actor_label", "reverses"]

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
