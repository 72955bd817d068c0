from __future__ import annotations

import factory
from django.utils import timezone

from pcf.models import ApiClient, hash_token
from resources.models import Resource


class ApiClientFactory(factory.django.DjangoModelFactory[ApiClient]):
    class Meta:
        model = ApiClient

    name = factory.Sequence(lambda n: f"client-{n}")
    token_hash = factory.Sequence(lambda n: hash_token(f"factory-token-{n}"))
    token_hint = "pcf_factor"


class ResourceFactory(factory.django.DjangoModelFactory[Resource]):
    class Meta:
        model = Resource

    tenant = factory.SubFactory(ApiClientFactory)
    public_id = factory.Sequence(lambda n: f"res_f{n:08d}")
    name = factory.Sequence(lambda n: f"Resource {n}")
    type = "document"
    status = "active"
    metadata = factory.LazyFunction(dict)
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyAttribute(lambda o: o.created_at)
