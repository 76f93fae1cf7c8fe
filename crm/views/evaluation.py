"""Data til evalueringen: the page that explains the evaluator's data package and downloads it as a
zip. Read-only, for the national working group and administrators.

The package is made by ``crm.services.evaluation_export`` (bytes, no HTTP); this view only shows
its resources with their row counts (one statement) and turns the files into a zip download.
"""
from flask import Blueprint, render_template

from crm.i18n import gettext as _
from crm.models.user import ROLE_ADMIN, ROLE_WORKING_GROUP
from crm.services import evaluation_export as service
from crm.views.access import roles_required
from crm.views.files import send_bytes

bp = Blueprint("evaluation", __name__, url_prefix="/evaluering")

# Who may take the whole country's records out of the CRM: the working group and administrators.
evaluation_required = roles_required(ROLE_WORKING_GROUP, ROLE_ADMIN)

ZIP_MIMETYPE = "application/zip"


@bp.route("/")
@evaluation_required
def index():
    """What the package holds, resource by resource with its fields and rows, and what it leaves out."""
    return render_template("evaluation/index.html", title=_("Data til evalueringen"),
                           resources=service.RESOURCES, counts=service.resource_counts(),
                           descriptor_name=service.DESCRIPTOR)


@bp.route("/datapakke.zip")
@evaluation_required
def download():
    """The package as a zip: datapackage.json and data/*.csv."""
    package = service.build_package()
    return send_bytes(package.zip_bytes(), service.package_filename(package), ZIP_MIMETYPE)
