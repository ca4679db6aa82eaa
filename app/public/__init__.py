"""Public lookup without login: merchant search and an instrument's page by its token; QR labels."""
