"""Tuning tests: real Optuna studies (journal files, and PostgreSQL where a server runs), tiny
data (iris), a few epochs and trials."""

from __future__ import annotations

import contextlib
import os
import uuid

import pytest

pytest.importorskip("optuna", reason="mlpkit tune needs optuna: pip install 'mlpkit[tune]'")

POSTGRES_URL = "MLPKIT_TEST_POSTGRES_URL"  # set by .ci/run, which starts a local server


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL URL whose server answers, or a skip saying why there is none."""
    url = os.environ.get(POSTGRES_URL)
    if not url:
        pytest.skip(f"no PostgreSQL server: {POSTGRES_URL} is not set (.ci/run starts one)")
    pytest.importorskip("psycopg2", reason="the PostgreSQL driver psycopg2 is not installed")
    import sqlalchemy

    try:
        with sqlalchemy.create_engine(url).connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
    except sqlalchemy.exc.OperationalError as exc:
        pytest.skip(f"the PostgreSQL server at {POSTGRES_URL} does not answer: {exc.orig}")
    return url


@pytest.fixture
def study_name():
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["journal", "postgresql"])
def storage(request, study_name):
    """Where a study is kept: the default journal in its folder (None), or a PostgreSQL URL
    (the study is deleted from the server afterwards)."""
    if request.param == "journal":
        yield None
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    import optuna

    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=study_name, storage=url)
