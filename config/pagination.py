"""The API's page size. Its own module: DRF imports it while loading its generic views, so it must not
import anything that imports those views back (config.api does, through drf-spectacular)."""

from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """``?page=`` and ``?page_size=`` (at most 100), 25 by default."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
