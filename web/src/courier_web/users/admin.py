from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from courier_web.actor import bound_actor
from courier_web.users.models import Profile, User


class ActingStaffAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The staff member using the admin is the actor of the changes it makes (their events)."""

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with bound_actor(request.user.pk):
            return super().changeform_view(request, *args, **kwargs)

    def changelist_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with bound_actor(request.user.pk):  # admin actions ("delete selected") run here
            return super().changelist_view(request, *args, **kwargs)

    def delete_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with bound_actor(request.user.pk):
            return super().delete_view(request, *args, **kwargs)


@admin.register(User)
class UserAdmin(ActingStaffAdmin):
    list_display = ("id", "email", "display_name", "is_staff", "date_joined")
    search_fields = ("email", "display_name")
    exclude = ("password",)


@admin.register(Profile)
class ProfileAdmin(ActingStaffAdmin):
    list_display = ("user", "created_at")
