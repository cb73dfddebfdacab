from __future__ import annotations

from django.contrib import admin

from courier_web.users.models import Profile, User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "email", "display_name", "is_staff", "date_joined")
    search_fields = ("email", "display_name")
    exclude = ("password",)


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "created_at")
