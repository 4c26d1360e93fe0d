find "customers.xlsx", "name=Ann"
SAVE "orders.xlsx", id, name, total
create_site "mysite", "template", "prompt"
x = website of "https://example.com"
