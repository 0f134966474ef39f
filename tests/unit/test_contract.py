from pathlib import Path

import jsonschema
import pandas as pd
import pytest

from il6fit.data.contract import MEASUREMENTS_SCHEMA, PARAMETERS, SUBJECTS_SCHEMA
from il6fit.data.dosing import DOSING_SCHEMA

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("table", ["subjects", "measurements"])
def test_workflow_schema_is_the_packaged_schema(table):
    name = f"{table}.schema.yaml"
    packaged = (ROOT / "il6fit/data/schemas" / name).read_text()
    assert (ROOT / "workflow/schemas" / name).read_text() == packaged, (
        f"copy il6fit/data/schemas/{name} to workflow/schemas/"
    )


def test_parameter_codes_and_the_paramcd_enum_agree():
    assert MEASUREMENTS_SCHEMA["properties"]["PARAMCD"]["enum"] == list(PARAMETERS)


def typed_rows(path, schema):
    """Rows of a CSV as JSON values: numbers for number columns, null for empty cells."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    for row in table.to_dict("records"):
        out = {}
        for column, text in row.items():
            types = schema["properties"].get(column, {}).get("type", "string")
            if text == "" and "null" in types:
                out[column] = None
            elif "integer" in types:
                out[column] = int(text)
            elif "number" in types:
                out[column] = float(text)
            else:
                out[column] = text
        yield out


@pytest.mark.parametrize(
    ("name", "schema"),
    [("subjects", SUBJECTS_SCHEMA), ("measurements", MEASUREMENTS_SCHEMA),
     ("dosing", DOSING_SCHEMA)],
)  # fmt: skip
def test_the_example_data_are_valid_json_schema_rows(name, schema):
    validator = jsonschema.Draft202012Validator(schema)
    for row in typed_rows(ROOT / f"data/example/{name}.csv", schema):
        assert not list(validator.iter_errors(row)), row


@pytest.mark.parametrize(
    "row",
    [
        {"USUBJID": "S-1", "PARAMCD": "XYZ", "AVAL": 1.0, "AVALC": "1", "AVALU": "mg/L", "ADY": 1},
        {"USUBJID": "S-1", "PARAMCD": "CRP", "AVAL": 1.0, "AVALC": "1", "AVALU": "mg/L"},
        {"USUBJID": "", "PARAMCD": "CRP", "AVAL": 1.0, "AVALC": "1", "AVALU": "mg/L", "ADY": 1},
    ],
)
def test_json_schema_rejects_what_prepare_rejects(row):
    assert list(jsonschema.Draft202012Validator(MEASUREMENTS_SCHEMA).iter_errors(row))
