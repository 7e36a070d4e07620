"""Customer files in and out (issue 17): spreadsheet export, import, template, dossier ZIP."""
