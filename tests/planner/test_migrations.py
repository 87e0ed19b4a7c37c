from sqlalchemy import inspect


def test_migrations_create_every_table(engine):
    names = set(inspect(engine).get_table_names())
    assert {"workspace", "user", "membership", "apitoken", "account", "post", "publication",
            "attempt", "review", "auditevent", "alembic_version"} <= names


def test_models_and_migrations_agree(db_url):
    """A model change without its migration fails here, not in production."""
    from alembic import command

    from planner.migrate import alembic_config

    command.check(alembic_config(db_url))


def test_downgrade_to_base_and_up_again(tmp_path):
    from alembic import command

    from planner.migrate import alembic_config, upgrade

    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    upgrade(url)
