//! Zip archives built in a test (nested folders, `.version` files, internal `.ckan`,
//! localization `.cfg` files).
