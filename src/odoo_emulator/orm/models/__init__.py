"""The models the emulator serves, on the tables ``schema.py`` creates.

They are the models a hosting platform and common Odoo clients touch (res.users, res.company,
res.partner, ir.config_parameter; ir.module.module, ir.attachment, res.groups, res.lang,
res.currency, res.users.log besides), with Odoo's own table and column names, so that a
database restored from a real Odoo dump is served too. Anything else is "Object m doesn't
exist", which is what a real server answers for a module that is not installed.

One file per model, as Odoo's ``addons/base/models/`` lays them out; this module is their
registry: the classes served for each version.
"""

from __future__ import annotations

from functools import cache

from odoo_emulator.orm.model import BaseModel
from odoo_emulator.orm.models.account_move import (
    AccountMove,
    AccountMoveLine,
    AccountPaymentRegister,
)
from odoo_emulator.orm.models.ir_attachment import IrAttachment
from odoo_emulator.orm.models.ir_config_parameter import IrConfigParameter
from odoo_emulator.orm.models.ir_module import Module
from odoo_emulator.orm.models.project import (
    Project,
    ProjectStage,
    Task,
    TaskType,
    TaskType18,
)
from odoo_emulator.orm.models.res_company import Company
from odoo_emulator.orm.models.res_currency import Currency
from odoo_emulator.orm.models.res_groups import Groups, Groups19
from odoo_emulator.orm.models.res_lang import Lang
from odoo_emulator.orm.models.res_partner import Partner
from odoo_emulator.orm.models.res_users import Users, Users19
from odoo_emulator.orm.models.res_users_log import UsersLog
from odoo_emulator.orm.models.website_blog import Blog, BlogPost, BlogTag
from odoo_emulator.versions import OdooVersion

_COMMON_MODELS: tuple[type[BaseModel], ...] = (
    Partner,
    Company,
    IrConfigParameter,
    Module,
    IrAttachment,
    Lang,
    Currency,
    UsersLog,
    # Apps (addons.py): each model exists once its module is installed.
    Project,
    ProjectStage,
    Task,
    AccountMove,
    AccountMoveLine,
    AccountPaymentRegister,
    Blog,
    BlogPost,
    BlogTag,
)


@cache
def models_for(version: OdooVersion) -> dict[str, type[BaseModel]]:
    if version.major >= 19:
        versioned: tuple[type[BaseModel], ...] = (Users19, Groups19, TaskType18)
    elif version.major >= 18:
        versioned = (Users, Groups, TaskType18)
    else:
        versioned = (Users, Groups, TaskType)
    classes: tuple[type[BaseModel], ...] = (*_COMMON_MODELS, *versioned)
    return {cls._name: cls for cls in classes}


_DEFAULT_MODELS: tuple[type[BaseModel], ...] = (*_COMMON_MODELS, Users, Groups, TaskType18)
MODELS: dict[str, type[BaseModel]] = {cls._name: cls for cls in _DEFAULT_MODELS}
