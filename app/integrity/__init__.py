"""Integrity pledges (诚信计量自我承诺), demonstration units and their targets."""
