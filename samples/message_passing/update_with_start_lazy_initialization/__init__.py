"""Update-with-start: the first update to a shopping cart also creates it."""
