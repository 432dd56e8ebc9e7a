from django.urls import path

from org import views

app_name = "org"

urlpatterns = [
    path("", views.directory, name="directory"),
    path("departments/<int:pk>/", views.department_detail, name="department"),
]
