from django.apps import AppConfig


class BaoxiaoConfig(AppConfig):
    name = "config"
    label = "baoxiao"
    verbose_name = "Baoxiao"
