"""The working-day calendar (工作日历): official holidays and adjusted working days (调休上班) that admins keep,
and deadlines counted in working days over it."""
