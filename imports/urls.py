api_urlpatterns: list = []

app_name = "imports"
urlpatterns: list = []
