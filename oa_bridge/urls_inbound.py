from django.urls import path

from oa_bridge.views_inbound import inbound_events

urlpatterns = [path("<slug:slug>/events/", inbound_events, name="oa_inbound")]
