"""Portal (Flask + Folium)."""
