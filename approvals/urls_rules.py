"""Routing-rule administration pages, mounted at /approvals/rules/ (admins only; others get a 404)."""

from django.urls import path

from approvals.rules_views import editor, pages, simulate

app_name = "rules"

urlpatterns = [
    path("", pages.index, name="index"),
    path("versions/<int:version>/", pages.version_detail, name="version"),
    path("draft/", pages.editor, name="draft"),
    path("draft/start/", pages.draft_start, name="draft_start"),
    path("draft/publish/", pages.publish, name="publish"),
    path("draft/fallback/", editor.fallback_view, name="fallback"),
    path("draft/matrix/", editor.matrix_view, name="matrix"),
    path("draft/matrix/<int:entry_id>/remove/", editor.matrix_remove_view, name="matrix_remove"),
    path("draft/rules/new/", editor.rule_new, name="rule_new"),
    path("draft/rules/<int:rule_id>/", editor.rule_edit, name="rule_edit"),
    path("draft/rules/<int:rule_id>/delete/", editor.rule_delete_view, name="rule_delete"),
    path("draft/rules/<int:rule_id>/move/", editor.rule_move_view, name="rule_move"),
    path("draft/rules/<int:rule_id>/steps/", editor.step_add_view, name="step_add"),
    path("draft/steps/<int:step_id>/", editor.step_edit_view, name="step_edit"),
    path("draft/steps/<int:step_id>/remove/", editor.step_remove_view, name="step_remove"),
    path("draft/steps/<int:step_id>/move/", editor.step_move_view, name="step_move"),
    path("simulate/", simulate.simulator, name="simulate"),
    path("dry-run/", simulate.dry_run_view, name="dry_run"),
]
