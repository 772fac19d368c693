"""The native API against its own OpenAPI document, from outside: the document is valid
OpenAPI, and a property-based run (schemathesis) of every operation, with requests that
follow the schemas and requests that break them, finds no 5xx and no response that differs
from its documented status codes, content type or schema."""

import os

from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from hypothesis import HealthCheck, given, settings
import schemathesis

# Examples per operation and mode; OTA_CONTRACT_EXAMPLES raises it for a longer run.
EXAMPLES = int(os.environ.get("OTA_CONTRACT_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def test_the_document_is_valid_openapi(document):
    validate(document)
    operations = sum(len(item) for item in document["paths"].values())
    assert operations >= 46, operations


def test_every_operation_keeps_its_contract(api_schema, server, signed):
    failures = []
    operations = 0
    last = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def exchange(case):
                last[:] = [case]
                case.call_and_validate(base_url=server.base, session=signed, checks=CHECKS)

            try:
                exchange()
            except (Exception, BaseExceptionGroup) as failure:  # every operation runs
                sent = last[0].as_curl_command() if last else ""
                failures.append("%s %s (%s): %s\n  last request: %s" % (
                    operation.method.upper(), operation.path, mode.value, failure, sent))
    assert operations >= 46, operations
    assert not failures, "\n\n".join(failures)
