"""The signed-in user, loaded on every request by one short query for the session and one for the user:
the same rows Django's own session store and ModelBackend read, without building a query each time."""

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone

from prakerja.accounts.models import User


class SessionStore(db.SessionStore):
    """Django's database sessions (same table, same encoding), read with one parameterised SELECT."""

    def load(self) -> dict[str, Any]:
        model = self.model
        using = router.db_for_read(model)
        with connections[using].cursor() as cursor:
            cursor.execute(
                f"SELECT session_data FROM {model._meta.db_table} "  # noqa: S608 - the table name is ours
                "WHERE session_key = %s AND expire_date > %s",
                [self.session_key, timezone.now()],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return {}
        decoded: dict[str, Any] = self.decode(row[0])
        return decoded


class UserBackend(ModelBackend):
    """ModelBackend, with the user of a session read by one SELECT built once from the model, its values
    converted as the ORM converts them (decrypted phone, booleans on SQLite)."""

    _reads: dict[str, tuple[str, list[str], list[tuple[int, Any, Any]]]] = {}

    def get_user(self, user_id: Any) -> User | None:
        using = router.db_for_read(User)
        select, names, converters = self._read(using)
        with connections[using].cursor() as cursor:
            cursor.execute(select, [User._meta.pk.to_python(user_id)])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for position, convert, column in converters:
            values[position] = convert(values[position], column, connections[using])
        user = User.from_db(using, names, values)
        return user if self.user_can_authenticate(user) else None

    @classmethod
    def _read(cls, using: str) -> tuple[str, list[str], list[tuple[int, Any, Any]]]:
        if using not in cls._reads:
            connection, fields = connections[using], User._meta.concrete_fields
            columns = [f.get_col(User._meta.db_table) for f in fields]
            converters = [
                (position, convert, column)
                for position, (field, column) in enumerate(zip(fields, columns, strict=True))
                for convert in connection.ops.get_db_converters(column) + field.get_db_converters(connection)
            ]
            quote = connection.ops.quote_name
            select = (  # built from the model's metadata only
                f"SELECT {', '.join(quote(str(f.column)) for f in fields)} "  # noqa: S608
                f"FROM {quote(User._meta.db_table)} WHERE id = %s"
            )
            cls._reads[using] = (select, [f.attname for f in fields], converters)
        return cls._reads[using]
