"""Domain errors and their HTTP mapping; Chinese error pages."""
from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused the operation; the message is for the user."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, link: str | None = None,
                 link_text: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # Where the user can see the record the error refers to (e.g. the duplicate).
        self.link = link
        self.link_text = link_text


class NotFound(DomainError):
    """The record does not exist or lies outside the user's stations."""

    status_code = 404


class Forbidden(DomainError):
    """The user's role may not do this."""

    status_code = 403


class Duplicate(DomainError):
    """The record would duplicate an existing one."""

    status_code = 409


class StaleEdit(DomainError):
    """Someone else saved the record after this form was opened."""

    status_code = 409

    def __init__(self, what: str = "该记录") -> None:
        super().__init__(f"{what}已被其他人修改并保存，您的修改未保存。请重新打开后再编辑。")


class Invalid(DomainError):
    """Input that breaks a domain rule."""

    status_code = 400


class StorageFailed(DomainError):
    """The server could not keep an uploaded file (a full disk, say); nothing of it was kept."""

    status_code = 507


# When an uploaded file could not be kept for want of room (the disk, a quota or a file-size limit).
STORAGE_FULL = "服务器存储空间不足，文件未保存，请联系管理员"

# When the database cannot be reached: said on a page that itself needs no database.
DATABASE_UNAVAILABLE = "数据库暂时无法连接，您的操作未完成。请稍后重试；如持续出现，请联系管理员。"

ERROR_TITLES = {
    400: "请求有误",
    401: "未登录",
    403: "无权访问",
    404: "页面或记录不存在",
    405: "不支持的请求方式",
    409: "操作冲突",
    413: "上传内容过大",
    429: "操作过于频繁",
    500: "系统内部错误",
    503: "服务暂时不可用",
    507: "服务器存储空间不足",
}

ERROR_MESSAGES = {
    400: "提交的内容无法处理，请返回检查后重试。",
    401: "请先登录（登录已过期）。草稿仍保存在手机上，登录后会继续发送。",
    403: "您没有执行该操作的权限。",
    404: "您要找的页面或记录不存在，或不在您负责的监管所范围内。",
    405: "该地址不支持此请求方式。",
    409: "该操作与已有数据冲突。",
    413: "上传的文件超过允许的大小。",
    429: "尝试次数过多，请稍后再试。",
    500: "系统出现错误，已记录。请稍后重试，或联系管理员。",
    503: "服务暂时不可用，您的操作未完成，请稍后重试。",
    507: STORAGE_FULL + "。",
}
