' Keywords of General Bots that botflow does not implement still parse
rows = FIND "customers.xlsx", "name=Ann"
SAVE "orders.xlsx", id, name, total
CREATE_SITE "mysite", "template", "A site about tea"
page = WEBSITE OF "https://example.com"
DOWNLOAD "https://example.com/file.pdf" TO "files/file.pdf"
SET THEME "dark"
