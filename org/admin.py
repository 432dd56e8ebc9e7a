from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from guardian.admin import GuardedModelAdmin

from org.models import Department, DepartmentExternalId, Employee, EmployeeExternalId
from org.selectors import manager_chain


class DepartmentExternalIdInline(admin.TabularInline):
    model = DepartmentExternalId
    extra = 0


class EmployeeExternalIdInline(admin.TabularInline):
    model = EmployeeExternalId
    extra = 0


class DepartmentAdminForm(forms.ModelForm):
    class Meta:
        model = Department
        fields = "__all__"  # noqa: DJ007 - the admin edits every field

    def clean_parent(self):
        parent = self.cleaned_data.get("parent")
        if parent is not None and self.instance.pk and parent.path.startswith(self.instance.path):
            raise forms.ValidationError(_("A department cannot be moved under itself or one of its sub-departments."))
        return parent


@admin.register(Department)
class DepartmentAdmin(GuardedModelAdmin):  # "Object permissions": grant auditors a department
    form = DepartmentAdminForm
    list_display = ["name", "code", "parent", "head", "depth", "active"]
    list_filter = ["active", "depth"]
    search_fields = ["name", "code", "external_ids__external_id"]
    list_select_related = ["parent", "head"]
    readonly_fields = ["path", "depth", "created_at", "updated_at"]
    autocomplete_fields = ["parent", "head"]
    inlines = [DepartmentExternalIdInline]

    def save_model(self, request, obj, form, change):
        # Paths are derived: route tree changes through the services that keep them consistent.
        from org import services

        if not change:
            created = services.department_create(name=obj.name, code=obj.code, parent=obj.parent, active=obj.active)
            obj.pk, obj.path, obj.depth = created.pk, created.path, created.depth
            if obj.head_id:
                services.department_set_head(department=created, head=obj.head)
            return
        if "parent" in form.changed_data:
            moved = services.department_move(department=obj, parent=obj.parent)
            obj.path, obj.depth = moved.path, moved.depth
        super().save_model(request, obj, form, change)


class EmployeeAdminForm(forms.ModelForm):
    class Meta:
        model = Employee
        fields = "__all__"  # noqa: DJ007 - the admin edits every field

    def clean_manager(self):
        manager = self.cleaned_data.get("manager")
        pk = self.instance.pk
        if manager is not None and pk and (manager.pk == pk or pk in {m.pk for m in manager_chain(manager)}):
            raise forms.ValidationError(_("This manager would make the manager chain loop."))
        return manager


@admin.register(Employee)
class EmployeeAdmin(admin.ModelAdmin):
    form = EmployeeAdminForm
    list_display = ["employee_no", "name", "department", "manager", "title", "level", "active"]
    list_filter = ["active", "level", "department"]
    search_fields = ["employee_no", "name", "user__username", "user__email", "external_ids__external_id"]
    list_select_related = ["department", "manager", "user"]
    autocomplete_fields = ["user", "department", "manager"]
    inlines = [EmployeeExternalIdInline]
