"""The resources the assets ask for by name: the warehouse (path, engine, DuckDB limits), dbt and dlt."""

from dagster import Definitions, definitions
from dagster_dlt import DagsterDltResource

from orchestration.dbt_resource import DbtResource
from orchestration.resources import warehouse_from_env
from orchestration.settings import DBT_EXECUTABLE, DBT_PROJECT_DIR


@definitions
def resources() -> Definitions:
    return Definitions(
        resources={
            "warehouse": warehouse_from_env(),
            "dbt": DbtResource(project_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE),
            "dlt": DagsterDltResource(),
        }
    )
