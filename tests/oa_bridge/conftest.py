import pytest

from oa_bridge.models import Connector
from tests.oa_bridge.receiver import receiver  # noqa: F401 - fixture


@pytest.fixture
def sandbox_connector(demo_company):
    return Connector.objects.get(slug="sandbox")


@pytest.fixture
def to_receiver(sandbox_connector, receiver):  # noqa: F811 - the fixture imported above
    """Point the demo connector's webhooks at the local receiver."""
    sandbox_connector.events_url = receiver.url
    sandbox_connector.save(update_fields=["events_url"])
    return sandbox_connector
