from typing import Any

from django.contrib import admin

from prakerja.core.models import AuditEntry, OutboxMessage


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["id", "at", "actor_label", "action", "object_type", "object_id"]
    list_filter = ["action"]
    search_fields = ["object_type", "object_id", "action"]

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: Any) -> bool:
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ["id", "channel", "subject", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["channel", "status"]
    exclude = ["recipient", "body"]
