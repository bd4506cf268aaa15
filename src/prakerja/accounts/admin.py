from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from prakerja.accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "role", "email", "is_active", "email_verified_at", "phone_verified_at"]
    list_filter = ["role", "is_active"]
    fieldsets = (*(DjangoUserAdmin.fieldsets or ()), ("Prakerja", {"fields": ("role",)}))
