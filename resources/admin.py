from django.contrib import admin

from resources.models import Resource


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin[Resource]):
    list_display = ("public_id", "name", "type", "status", "tenant", "created_at", "deleted_at")
    list_filter = ("type", "status", "tenant", ("deleted_at", admin.EmptyFieldListFilter))
    search_fields = ("public_id", "name")
    list_select_related = ("tenant",)
    ordering = ("-seq",)
    show_full_result_count = False  # COUNT(*) over millions of rows is slow
