from django.contrib import admin

from pcf.models import ApiClient


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin[ApiClient]):
    list_display = ("name", "token_hint", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "token_hint")
    readonly_fields = ("token_hash", "token_hint", "created_at")
    exclude = ("webhook_secret",)
