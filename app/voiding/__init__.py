"""Voiding a record that is evidence (a verification, a finding): one mixin, one service, one form, one partial.

Evidence is never edited or deleted; a wrong record is voided with a reason, stays visible (struck through) and
leaves every count. The columns are the mixin's (models.py), the one way to void is services.void_record(), the
form is forms.VoidForm and the page pieces are app/templates/_void.html.
"""
