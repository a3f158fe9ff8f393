"""The grid worker's day in the portal: the /field page (PWA), leaders' log review, the field API."""
