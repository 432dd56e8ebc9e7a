from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail is append-only and hash-chained (manage.py verify_audit_chain checks it)."""

    list_display = ["sequence", "occurred_at", "action", "target_label", "actor_name", "on_behalf_of_name"]
    list_filter = ["action", "target_type"]
    search_fields = ["target_label", "target_id", "actor_name"]
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
