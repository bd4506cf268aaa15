from django.urls import path

from prakerja.payments import views

app_name = "payments"
urlpatterns = [
    path("pendaftaran/rekening/", views.payout_account_page, name="account"),
    path("pendaftaran/rekening/kode/", views.payout_account_code, name="account_code"),
    path("pmo/pembayaran/", views.money, name="money"),
    path("pmo/pembayaran/batch/baru/", views.batch_build, name="batch_build"),
    path("pmo/pembayaran/batch/<int:pk>/", views.batch_detail, name="batch"),
    path("pmo/pembayaran/batch/<int:pk>/setujui/", views.batch_approve, name="batch_approve"),
    path("pmo/pembayaran/batch/<int:pk>/kirim/", views.batch_send, name="batch_send"),
    path("pmo/pembayaran/callback/", views.callbacks, name="callbacks"),
    path("pmo/pembayaran/rekonsiliasi/", views.reconciliations, name="reconciliations"),
    path("pmo/pembayaran/rekonsiliasi/<int:pk>/", views.reconciliation_detail, name="reconciliation"),
    path("pmo/pembayaran/tagihan/", views.statements, name="statements"),
    path("pmo/pembayaran/tagihan/terbitkan/", views.statements_issue, name="statements_issue"),
    path("pmo/pembayaran/tagihan/<int:pk>/dibayar/", views.statement_paid, name="statement_paid"),
    path("mitra/tagihan/", views.platform_statements, name="platform_statements"),
    path("mitra/tagihan/<int:pk>/", views.platform_statement, name="platform_statement"),
]
